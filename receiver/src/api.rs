//! gRPC API: list, fetch and watch stored results.

use std::pin::Pin;

use futures::Stream;
use semcom_proto::v1::receiver_server::Receiver;
use semcom_proto::v1::{
    GetResultRequest, ListResultsRequest, ListResultsResponse, ResultData, ResultInfo, WatchResultsRequest,
};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use crate::decode::{MASK_SUFFIX, PROMPT_JSON_SUFFIX, PROMPT_TEXT_SUFFIX};
use crate::store::Store;

pub(crate) struct ReceiverApi {
    pub store: Store,
}

#[tonic::async_trait]
impl Receiver for ReceiverApi {
    async fn list(&self, _req: Request<ListResultsRequest>) -> Result<Response<ListResultsResponse>, Status> {
        let mut results: Vec<ResultInfo> = self.store.list().iter().map(|m| m.to_info()).collect();
        results.sort_by_key(|r| r.stored_at_ms);
        Ok(Response::new(ListResultsResponse { results }))
    }

    async fn get(&self, req: Request<GetResultRequest>) -> Result<Response<ResultData>, Status> {
        let id = req.into_inner().id;
        let (meta, path) = self.store.get(&id).ok_or_else(|| Status::not_found(format!("no result with id {id:?}")))?;
        let read = |path: std::path::PathBuf| async move {
            tokio::fs::read(&path).await.map_err(|e| Status::internal(format!("reading {}: {e}", path.display())))
        };
        let png = read(path).await?;
        let mut data = ResultData { info: Some(meta.to_info()), png, ..ResultData::default() };
        if meta.semantic.is_some() {
            let file = |suffix| self.store.file(&id, suffix).ok_or_else(|| Status::internal("result file path"));
            data.mask_png = read(file(MASK_SUFFIX)?).await?;
            data.prompt_json = String::from_utf8_lossy(&read(file(PROMPT_JSON_SUFFIX)?).await?).into_owned();
            data.prompt_text = String::from_utf8_lossy(&read(file(PROMPT_TEXT_SUFFIX)?).await?).into_owned();
        }
        Ok(Response::new(data))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<ResultInfo, Status>> + Send>>;

    async fn watch(&self, _req: Request<WatchResultsRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let stream = BroadcastStream::new(self.store.subscribe()).map(|item| match item {
            Ok(meta) => Ok(meta.to_info()),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Err(Status::data_loss(format!("watcher too slow: {n} results skipped; use List")))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
