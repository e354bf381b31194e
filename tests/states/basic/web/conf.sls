web_conf:
  test.succeed_with_changes:
    - name: /etc/web.conf
