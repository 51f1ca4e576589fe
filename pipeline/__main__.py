"""``python -m sergetrotsky`` runs the same CLI as the ``sergetrotsky`` script.

In a checkout, ``python -m pipeline`` is an alias (the folder is the package's source).
"""

from sergetrotsky.cli import main

if __name__ == "__main__":
    main()
