one:
  rec.same: []

fails:
  rec.fail: []

after_fail:
  rec.same: []
