"""Recordings and what is made from them: record real play (`record`), the HDF5 episodes
(`dataset`), the describer's text corpus (`text_corpus`), the VAE latent cache (`latents`), training
windows (`training_data`), real start contexts (`contexts`) and export to Minari (`export_minari`)."""
