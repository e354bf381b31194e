default_retry:
  rec.flaky:
    - fails: 1
    - retry: True
