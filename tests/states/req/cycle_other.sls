gamma:
  rec.same:
    - require:
      - alpha
