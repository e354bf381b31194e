base:
  '*':
    - common
  'os:Debian':
    - match: grain
    - debian
  'web*':
    - web
  'G@role:db and not web*':
    - match: compound
    - db
