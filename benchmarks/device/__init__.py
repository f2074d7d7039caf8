"""One prepared GPU run (issue 22): parts a-f of ``run.sh``, their reference, results files and renderer."""
