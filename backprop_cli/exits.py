"""The exit codes, in one place: what each command's report or error maps to.

  0    every check that ran passed (or none was asked for)
  1    a check disagreed: sympy, finite differences, or an expected value (for `check`: a case
       failed)
  2    bad input: a parse, name, binding, shape or domain error (for `check`: a bad line or a
       case that timed out)
  3    an internal error: a bug, reported in one line, never as a traceback
  130  interrupted (Ctrl-C); 141 stdout closed early (128 + SIGPIPE, as a shell reports it)
"""

OK = 0
CHECK_FAILED = 1
BAD_INPUT = 2
INTERNAL = 3
INTERRUPTED = 130
BROKEN_PIPE = 141
