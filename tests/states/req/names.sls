pkgs:
  rec.args:
    - mode: "0644"
    - names:
      - alpha
      - beta:
        - mode: "0700"
      - gamma: {mode: "0750"}
