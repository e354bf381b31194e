cancelled:
  rec.flaky:
    - fails: 5
    - cancel: True
    - retry:
        attempts: 5
        interval: 60
