"""The paper's verl run as its scripts configure it (bytedance/FTRL at HEAD), written from the reference files,
not from toolgym's docs: each setting's value in the configuration the run composes -- the fork's
``Code/verl/trainer/config/ppo_trainer.yaml`` with the overrides of ``Scripts/FTRL-GRPO-Qwen25.sh`` -- and the
file and line it comes from. The five other scripts differ from that one only where ``SCRIPT_VARIANTS`` says
(the advantage estimator, the Qwen3 template settings, the reasoning runs' response length), plus their data
files, model and experiment names.

Keys are the fork's. ``STOCK_KEY`` names the key of stock verl 0.9 that holds the same setting where verl
renamed or moved it; ``NOT_CARRIED`` lists the settings toolgym does not reproduce, with the reason.
"""

YAML = "Code/verl/trainer/config/ppo_trainer.yaml"
SCRIPT = "Scripts/FTRL-GRPO-Qwen25.sh"

#: fork key -> (value, file, line)
REFERENCE = {
    # the script's overrides
    "algorithm.adv_estimator": ("grpo", SCRIPT, 14),
    "data.train_batch_size": (512, SCRIPT, 17),
    "data.max_prompt_length": (16384, SCRIPT, 18),
    "data.max_response_length": (1024, SCRIPT, 19),
    "data.filter_overlong_prompts": (True, SCRIPT, 20),
    "data.truncation": ("error", SCRIPT, 21),
    "data.prompt_key": ("messages", SCRIPT, 22),
    "actor_rollout_ref.actor.optim.lr": (1e-6, SCRIPT, 24),
    "actor_rollout_ref.model.use_remove_padding": (True, SCRIPT, 25),
    "actor_rollout_ref.actor.ppo_mini_batch_size": (32, SCRIPT, 26),
    "actor_rollout_ref.actor.use_dynamic_bsz": (True, SCRIPT, 27),
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": (32768, SCRIPT, 28),
    "actor_rollout_ref.actor.use_kl_loss": (True, SCRIPT, 29),
    "actor_rollout_ref.actor.kl_loss_coef": (0.001, SCRIPT, 30),
    "actor_rollout_ref.actor.kl_loss_type": ("low_var_kl", SCRIPT, 31),
    "actor_rollout_ref.actor.entropy_coeff": (0.001, SCRIPT, 32),
    "actor_rollout_ref.model.enable_gradient_checkpointing": (True, SCRIPT, 33),
    "actor_rollout_ref.actor.fsdp_config.param_offload": (False, SCRIPT, 34),
    "actor_rollout_ref.actor.fsdp_config.optimizer_offload": (False, SCRIPT, 35),
    "actor_rollout_ref.rollout.tensor_model_parallel_size": (2, SCRIPT, 36),
    "actor_rollout_ref.rollout.name": ("vllm", SCRIPT, 37),
    "actor_rollout_ref.rollout.mode": ("sync", SCRIPT, 38),
    "actor_rollout_ref.rollout.gpu_memory_utilization": (0.7, SCRIPT, 39),
    "actor_rollout_ref.rollout.n": (16, SCRIPT, 40),
    "actor_rollout_ref.rollout.max_num_batched_tokens": (32768, SCRIPT, 41),
    "actor_rollout_ref.ref.fsdp_config.param_offload": (True, SCRIPT, 42),
    "reward_model.reward_manager": ("tool", SCRIPT, 43),
    "custom_reward_function.name": ("compute_solve_f1", SCRIPT, 45),
    "algorithm.use_kl_in_reward": (False, SCRIPT, 46),
    "trainer.critic_warmup": (0, SCRIPT, 47),
    "trainer.logger": (["console", "wandb"], SCRIPT, 48),
    "trainer.val_before_train": (False, SCRIPT, 51),
    "trainer.n_gpus_per_node": (8, SCRIPT, 52),
    "trainer.nnodes": (1, SCRIPT, 53),
    "trainer.save_freq": (120, SCRIPT, 54),
    "trainer.test_freq": (-1, SCRIPT, 55),
    "trainer.total_epochs": (1, SCRIPT, 56),
    # the fork's config file, not overridden by any script
    "data.shuffle": (True, YAML, 15),
    "data.enable_thinking": (False, YAML, 24),
    "actor_rollout_ref.actor.grad_clip": (1.0, YAML, 46),
    "actor_rollout_ref.actor.clip_ratio_low": (0.2, YAML, 49),
    "actor_rollout_ref.actor.clip_ratio_high": (0.2, YAML, 50),
    "actor_rollout_ref.actor.loss_agg_mode": ("seq-mean-token-mean", YAML, 52),
    "actor_rollout_ref.actor.ppo_epochs": (1, YAML, 58),
    "actor_rollout_ref.actor.optim.lr_warmup_steps_ratio": (0.0, YAML, 66),
    "actor_rollout_ref.actor.optim.warmup_style": ("constant", YAML, 69),
    "actor_rollout_ref.actor.optim.weight_decay": (0.01, YAML, 71),
    "actor_rollout_ref.rollout.temperature": (0.7, YAML, 99),
    "actor_rollout_ref.rollout.top_k": (-1, YAML, 100),
    "actor_rollout_ref.rollout.top_p": (1, YAML, 101),
    "algorithm.gamma": (1.0, YAML, 222),
    "algorithm.lam": (1.0, YAML, 223),
    "algorithm.norm_adv_by_std_in_grpo": (True, YAML, 225),
}

#: What the other five scripts change: script -> {fork key: (value, line)}.
SCRIPT_VARIANTS = {
    "Scripts/FTRL-Reinforce++-Qwen25.sh": {"algorithm.adv_estimator": ("reinforce_plus_plus", 14)},
    "Scripts/FTRL-GRPO-Qwen3.sh": {"data.enable_thinking": (False, 24)},
    "Scripts/FTRL-Reinforce++-Qwen3.sh": {"algorithm.adv_estimator": ("reinforce_plus_plus", 14),
                                          "data.enable_thinking": (False, 24)},
    "Scripts/FTRL-GRPO-Qwen3-Reasoning.sh": {"data.max_response_length": (8192, 19),
                                             "data.enable_thinking": (True, 24)},
    "Scripts/FTRL-Reinforce++-Qwen3-Reasoning.sh": {"algorithm.adv_estimator": ("reinforce_plus_plus", 14),
                                                    "data.max_response_length": (8192, 19),
                                                    "data.enable_thinking": (True, 24)},
}

#: fork key -> the stock verl 0.9 key of the same setting
STOCK_KEY = {
    "data.enable_thinking": "data.apply_chat_template_kwargs.enable_thinking",  # the fork's dataset passed it
    "actor_rollout_ref.actor.grad_clip": "actor_rollout_ref.actor.optim.clip_grad",
    "actor_rollout_ref.actor.optim.warmup_style": "actor_rollout_ref.actor.optim.lr_scheduler_type",
    "custom_reward_function.name": "reward.custom_reward_function.name",
}

#: fork key -> why toolgym's run differs
NOT_CARRIED = {
    "data.prompt_key": "toolgym's verl rows hold the conversation in `prompt` (verl's default column)",
    "actor_rollout_ref.rollout.mode": "verl 0.9 removed the sync rollout; its only mode is async",
    "reward_model.reward_manager": "the fork's `tool` manager is not in stock verl; the `naive` manager calls "
                                   "toolgym's compute_score per sample",
    "custom_reward_function.name": "toolgym's reward entry point is compute_score (the paper's step reward)",
    "trainer.logger": "console by default; --report-to adds wandb, tensorboard or trackio",
}
