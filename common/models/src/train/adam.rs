//! AdamW (Loshchilov & Hutter 2019) with global-norm gradient clipping, whose moments
//! can be checkpointed (candle's optimiser keeps them private).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// Start of the names of the moment tensors in a checkpoint, which tell them from the
/// model's own.
pub const STATE_PREFIX: &str = "adam.";

pub struct AdamW {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
    weight_decay: f64,
}

impl AdamW {
    pub fn new(vars: Vec<(String, Var)>, weight_decay: f64) -> Result<Self> {
        let m = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<Vec<_>>>()?;
        let v = vars.iter().map(|(_, v)| v.zeros_like()).collect::<Result<Vec<_>>>()?;
        Ok(Self { vars, m, v, step: 0, weight_decay })
    }

    /// One update with learning rate `lr`, gradients clipped to global norm `clip`.
    /// Variables without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: f64) -> Result<()> {
        let mut sq = 0f64;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var) {
                sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = sq.sqrt();
        let factor = if norm > clip && norm.is_finite() { clip / norm } else { 1.0 };
        self.step += 1;
        let (b1t, b2t) = (1.0 - BETA1.powi(self.step as i32), 1.0 - BETA2.powi(self.step as i32));
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            // Detached: gradients carry the op graph, and moments must not keep it alive.
            let g = (g.detach() * factor)?;
            self.m[i] = ((&self.m[i] * BETA1)? + (&g * (1.0 - BETA1))?)?.detach();
            self.v[i] = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?.detach();
            let mhat = (&self.m[i] / b1t)?;
            let vhat = (&self.v[i] / b2t)?;
            let update = (mhat / (vhat.sqrt()? + EPS)?)?;
            let decayed = (var.as_tensor().detach() * (1.0 - lr * self.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(())
    }

    /// `adam.m.<name>`, `adam.v.<name>` for a checkpoint (every name starts with
    /// [`STATE_PREFIX`]).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .enumerate()
            .flat_map(|(i, (n, _))| {
                [
                    (format!("{STATE_PREFIX}m.{n}"), self.m[i].clone()),
                    (format!("{STATE_PREFIX}v.{n}"), self.v[i].clone()),
                ]
            })
            .collect()
    }

    /// Restores the moments saved by [`AdamW::state_tensors`] and the step count.
    pub fn restore(&mut self, tensors: &HashMap<String, Tensor>, step: usize) -> Result<()> {
        for (i, (n, _)) in self.vars.iter().enumerate() {
            let get = |k: String| {
                tensors.get(&k).cloned().ok_or_else(|| candle_core::Error::Msg(format!("checkpoint lacks {k}")))
            };
            self.m[i] = get(format!("{STATE_PREFIX}m.{n}"))?;
            self.v[i] = get(format!("{STATE_PREFIX}v.{n}"))?;
        }
        self.step = step;
        Ok(())
    }
}
