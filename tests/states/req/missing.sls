lonely:
  rec.same:
    - require:
      - pkg: nowhere

also_lonely:
  rec.same:
    - watch_in:
      - nobody
