include:
  - .conf

web_service:
  test.configurable_test_state:
    - changes: False
    - comment: "serving {{ sls }} from {{ tpldir }}"
    - require:
      - test: web_conf
