common: test.succeed_without_changes
