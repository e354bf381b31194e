graceful_down:
  rec.same:
    - prereq:
      - rec: deploy

deploy:
  rec.changed: []

noop_down:
  rec.same:
    - prereq:
      - rec: stable

stable:
  rec.same: []

late_target:
  rec.changed: []

late_pre:
  rec.same:
    - prereq:
      - late_target

fail_target:
  rec.changed: []

fail_down:
  rec.fail:
    - prereq:
      - fail_target

in_pre:
  rec.same: []

in_target:
  rec.changed:
    - prereq_in:
      - in_pre
