conf:
  rec.changed: []
svc:
  rec.same:
    - watch:
      - conf
on_change:
  rec.same:
    - onchanges:
      - conf
pre:
  rec.same:
    - prereq:
      - conf
