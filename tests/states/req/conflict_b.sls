shared_id:
  rec.same: []
