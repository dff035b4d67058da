"""From-scratch stages, one small module per box of the pipeline:

    tokenizer -> pretrain (+ context extension) -> SFT / reasoning SFT -> DPO | GRPO / GSPO
                                                   (LoRA on any of them, distillation)

`presets` builds the models, `corpus` and `arithmetic` build the data, `thinking` generates
with a thinking budget, `pipeline` chains tokenizer -> pretrain -> SFT for `smolmoe scratch run`.
Every training stage goes through the one loop in smolmoe.training.loop.
"""
