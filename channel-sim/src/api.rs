//! gRPC control API: read and change the channel while the proxy runs.

use semcom_proto::v1::channel_control_server::ChannelControl;
use semcom_proto::v1::{ChannelSettings, ChannelStats, GetChannelRequest, StatsRequest};
use tonic::{Request, Response, Status};

use crate::state::Shared;

pub(crate) struct ControlApi {
    pub shared: Shared,
}

#[tonic::async_trait]
impl ChannelControl for ControlApi {
    async fn get_channel(&self, _req: Request<GetChannelRequest>) -> Result<Response<ChannelSettings>, Status> {
        Ok(Response::new(self.shared.settings()))
    }

    async fn set_channel(&self, req: Request<ChannelSettings>) -> Result<Response<ChannelSettings>, Status> {
        let settings = self.shared.update(req.get_ref()).map_err(Status::invalid_argument)?;
        tracing::info!(snr_db = ?settings.snr_db, enabled = ?settings.enabled, "channel changed");
        Ok(Response::new(settings))
    }

    async fn stats(&self, _req: Request<StatsRequest>) -> Result<Response<ChannelStats>, Status> {
        Ok(Response::new(self.shared.stats()))
    }
}
