base:
  '*':
    - formula.sub.config
