"""From-scratch models, one small module per box of the pipeline:

    tokenizer -> pretrain (+ context extension) -> SFT / reasoning SFT -> DPO | GRPO / GSPO
                                                   (LoRA on any of them, distillation)

`presets` builds the models, `corpus` builds the data (with rl.arithmetic's word problems),
`thinking` generates with a thinking budget, `budgets` holds each stage's default budget.
DPO and GRPO/GSPO live in smolmoe.rl, LoRA in smolmoe.training; pipelines.scratch chains
tokenizer -> pretrain -> SFT for `smolmoe scratch run`. Every training stage goes through the
one loop in smolmoe.training.loop.
"""
