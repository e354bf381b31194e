unknown_key:
  rec.same:
    - retry:
        attempts: 2
        tries: 3

wrong_type:
  rec.same:
    - retry:
        interval: soon

zero_attempts:
  rec.same:
    - retry:
        attempts: 0

not_a_mapping:
  rec.same:
    - retry: [1, 2]

bad_reload:
  rec.same:
    - reload_modules: sometimes
