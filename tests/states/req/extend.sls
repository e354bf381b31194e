include:
  - extend_base

extend:
  target:
    rec.args:
      - mode: "0600"
      - require:
        - rec: extra

extra:
  rec.same:
    - order: last
