"""Understanding a message: the Rasa NLU components (config.yml names them), the
sentence embeddings, the knowledge base, the trained model, and the Router that turns an
InboundMessage into a decision and a reply with the rules of `ks1bot.core`."""
