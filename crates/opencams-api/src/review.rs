//! Who reviews a template: the channel of the space's numbers. A space with a `whatsapp-cloud`
//! number submits to that WABA's template API (Meta reviews; its `message_template_status_update`
//! webhook reports the outcome); otherwise the built-in simulator reviews after a delay.

use opencams_domain::template::TemplateDraft;
use opencams_protocol::CamsError;

/// How a submission went.
pub enum Submitted {
    /// The space has no provider that reviews: the built-in simulator will.
    BySimulator,
    /// Submitted to the provider, which knows it by this id.
    ToProvider(String),
}

#[async_trait::async_trait]
pub trait TemplateSubmitter: Send + Sync {
    /// Submits a new template (or, with `existing`, an edit of that provider template).
    async fn submit(
        &self,
        space_id: &str,
        draft: &TemplateDraft,
        existing: Option<&str>,
    ) -> Result<Submitted, CamsError>;
}

/// Every template is reviewed by the built-in simulator.
pub struct SimulatorOnly;

#[async_trait::async_trait]
impl TemplateSubmitter for SimulatorOnly {
    async fn submit(
        &self,
        _: &str,
        _: &TemplateDraft,
        _: Option<&str>,
    ) -> Result<Submitted, CamsError> {
        Ok(Submitted::BySimulator)
    }
}
