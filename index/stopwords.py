"""A compact English stopword list, used for boilerplate detection and lexical matching."""

_WORDS = """
a about above after again against all also am amid among an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just may me might more most must my myself no nor not now of off on once only or other our
ours ourselves out over own per said same says shall she should so some such than that the their
theirs them themselves then there these they this those through to too under until up upon very
via was we were what when where which while who whom why will with within without would you your
yours yourself yourselves
"""

STOPWORDS = frozenset(_WORDS.split())
