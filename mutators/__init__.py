"""mutators: the guard-variant space, Coccinelle rules, apply/propose on a kernel tree."""
