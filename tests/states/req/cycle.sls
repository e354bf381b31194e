include:
  - cycle_other

alpha:
  rec.same:
    - require:
      - rec: beta

beta:
  rec.same:
    - watch:
      - gamma
