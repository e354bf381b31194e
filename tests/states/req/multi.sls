web:
  rec.same: []
  test.succeed_with_changes: []

plain: test.nop

long_form:
  test:
    - show_notification
    - text: hello
