db_server:
  test.nop: []
