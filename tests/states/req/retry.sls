flaky_then_ok:
  rec.flaky:
    - fails: 2
    - retry:
        attempts: 3
        interval: 0

flaky_out_of_attempts:
  rec.flaky:
    - fails: 5
    - retry:
        attempts: 2
        interval: 0
        splay: 0

until_false:
  rec.flaky:
    - retry:
        attempts: 3
        until: False
        interval: 0

ok_at_once:
  rec.flaky:
    - retry:
        attempts: 5
        interval: 0

no_retry:
  rec.flaky:
    - fails: 1
    - retry: False
