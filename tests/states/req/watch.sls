conf:
  rec.changed: []

unchanged:
  rec.same: []

broken:
  rec.fail: []

svc:
  rec.same:
    - watch:
      - rec: conf

quiet_svc:
  rec.same:
    - watch:
      - unchanged

any_svc:
  rec.same:
    - watch_any:
      - rec: unchanged
      - rec: conf
      - broken

watch_failed:
  rec.same:
    - watch:
      - rec: broken
      - conf

plain_watcher:
  rec2.same:
    - watch:
      - conf

reverse_watched:
  rec.changed:
    - watch_in:
      - rec: reverse_svc

reverse_svc:
  rec.same: []
