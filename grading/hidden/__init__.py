"""Graded tests students do not see: left out of the student copy by ``minirnn assign``."""
