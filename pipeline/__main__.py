"""``python -m pipeline`` runs the same CLI as the ``sergetrotsky`` script."""

from .cli import main

if __name__ == "__main__":
    main()
