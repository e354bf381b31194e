# Definition order, except that a state pulls what it requires before it.
first_defined:
  rec.same:
    - require:
      - rec: last_defined

middle:
  rec.same: []

last_defined:
  rec.same: []
