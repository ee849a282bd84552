//! gRPC clients of the three daemons and the one workflow everybody needs:
//! submit an image, wait until the receiver has stored it, fetch the result.

use anyhow::{anyhow, bail, Context, Result};
use semcom_proto::v1::channel_control_client::ChannelControlClient;
use semcom_proto::v1::receiver_client::ReceiverClient;
use semcom_proto::v1::sender_client::SenderClient;
use semcom_proto::v1::{
    ChannelSettings, GetResultRequest, JobState, ResultData, SubmitRequest, SubmitResponse, TransmitOptions,
    WatchJobRequest,
};
use tonic::transport::Channel;

/// Larger than any result PNG the receiver can produce under its limits.
const MAX_RESULT_BYTES: usize = 512 * 1024 * 1024;

pub struct Clients {
    pub sender: SenderClient<Channel>,
    pub receiver: ReceiverClient<Channel>,
    pub control: Option<ChannelControlClient<Channel>>,
}

/// One delivered transmission, as the sender and the receiver saw it.
#[derive(Debug)]
pub struct Delivered {
    pub job_id: String,
    pub submit: SubmitResponse,
    pub result: ResultData,
}

impl Clients {
    pub async fn connect(sender: &str, receiver: &str, control: Option<&str>) -> Result<Self> {
        let sender = connect_sender(sender).await?;
        let receiver = ReceiverClient::connect(receiver.to_owned())
            .await
            .with_context(|| format!("connecting to the receiver at {receiver}"))?
            .max_decoding_message_size(MAX_RESULT_BYTES);
        let control = match control {
            Some(url) => Some(
                ChannelControlClient::connect(url.to_owned())
                    .await
                    .with_context(|| format!("connecting to channel-sim at {url}"))?,
            ),
            None => None,
        };
        Ok(Self { sender, receiver, control })
    }

    pub async fn set_snr(&mut self, snr_db: f64) -> Result<ChannelSettings> {
        let control = self.control.as_mut().ok_or_else(|| anyhow!("no channel-sim control address"))?;
        Ok(control
            .set_channel(ChannelSettings { snr_db: Some(snr_db), enabled: Some(true), ..ChannelSettings::default() })
            .await
            .context("setting the channel")?
            .into_inner())
    }

    /// Submits and waits (by watching the job, no polling) until it is delivered,
    /// then fetches the stored result.
    pub async fn transmit(&mut self, name: &str, image: Vec<u8>, options: TransmitOptions) -> Result<Delivered> {
        let submit = submit(&mut self.sender, name, image, options).await?;
        let job_id = submit.job_id.clone();
        let result_id = self.wait_delivered(&job_id).await?;
        let result = self
            .receiver
            .get(GetResultRequest { id: result_id })
            .await
            .map_err(|s| anyhow!("fetching result: {}", s.message()))?
            .into_inner();
        Ok(Delivered { job_id, submit, result })
    }

    /// Follows a job to its end; returns the receiver's result id.
    pub async fn wait_delivered(&mut self, job_id: &str) -> Result<String> {
        let mut events = self
            .sender
            .watch(WatchJobRequest { job_id: job_id.to_owned() })
            .await
            .context("watching job")?
            .into_inner();
        while let Some(event) = events.message().await.context("job event stream")? {
            match JobState::try_from(event.state) {
                Ok(JobState::Delivered) => return Ok(event.result_id),
                Ok(JobState::Failed) => bail!("job {job_id} failed: {}", event.detail),
                _ => {}
            }
        }
        bail!("job {job_id}: the sender ended the event stream before the job finished")
    }
}

/// A client of the sender alone (submitting without waiting needs no receiver).
pub async fn connect_sender(url: &str) -> Result<SenderClient<Channel>> {
    Ok(SenderClient::connect(url.to_owned())
        .await
        .with_context(|| format!("connecting to the sender at {url}"))?
        .max_encoding_message_size(MAX_RESULT_BYTES))
}

/// Queues one image; the sender's refusal (bad image, bad options) becomes an error
/// that names the gRPC code and the reason.
pub async fn submit(
    sender: &mut SenderClient<Channel>,
    name: &str,
    image: Vec<u8>,
    options: TransmitOptions,
) -> Result<SubmitResponse> {
    Ok(sender
        .submit(SubmitRequest { image, name: name.to_owned(), options: Some(options) })
        .await
        .map_err(|s| anyhow!("submit refused: {}: {}", code_name(s.code()), s.message()))?
        .into_inner())
}

pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::InvalidArgument => "invalid argument",
        tonic::Code::NotFound => "not found",
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::ResourceExhausted => "resource exhausted",
        tonic::Code::OutOfRange => "out of range",
        _ => "error",
    }
}
