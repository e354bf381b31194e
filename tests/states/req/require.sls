include:
  - .require_dep

broken:
  rec.fail: []

good:
  rec.same: []

needs_broken:
  rec.same:
    - require:
      - rec: broken
      - good

needs_any:
  rec.same:
    - require_any:
      - rec: broken
      - good

needs_any_all_failed:
  rec.same:
    - require_any:
      - broken

reversed:
  rec.same:
    - require_in:
      - rec: late

late:
  rec.same:
    - name: late-name

by_name:
  rec.same:
    - require:
      - rec: late-name

by_sls:
  rec.same:
    - require:
      - sls: require_dep

by_glob:
  rec.same:
    - require:
      - rec: dep_*
