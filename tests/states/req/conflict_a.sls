include:
  - conflict_b
shared_id:
  rec.same: []
