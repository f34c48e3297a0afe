"""Test and simulation support shared by the test suite and `stagebox regs --transport sim`."""
