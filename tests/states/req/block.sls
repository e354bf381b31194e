waits:
  rec.block: []
