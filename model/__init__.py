"""The TV2TV world model (issue 9): VAE, tokenizer, MoT transformer, sampler, training."""
