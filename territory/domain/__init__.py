"""The domain: what a territory plan, a quota, a comp plan and a check are, and how to measure them.

Pure computation on tables and arrays. It knows nothing of solver backends, files, pages or the
command line, so every other layer can build on it and tests can use it directly.
"""
