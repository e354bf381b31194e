one:
  rec.same: []

stopper:
  rec.fail:
    - failhard: True

never:
  rec.same: []
