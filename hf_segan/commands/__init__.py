"""Sub-commands of the ``hf-segan`` CLI, one module each (see ``hf_segan.cli``)."""
