//! The gRPC server every daemon runs: its own service next to the standard health
//! service and reflection over semcom's protos, bound before the daemon reports that it
//! has started, and served until the daemon is stopped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinError;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::ServerTask;

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("binding gRPC on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server")]
    Serve(#[from] tonic::transport::Error),
    #[error("server task")]
    Task(#[from] JoinError),
}

/// A daemon's gRPC server, bound and ready to serve.
pub struct GrpcServer {
    listener: TcpListener,
    addr: SocketAddr,
    routes: Routes,
}

impl GrpcServer {
    /// Binds `addr` and sets `service` up next to health (reporting `service` as
    /// serving from the start) and reflection.
    pub async fn bind<S>(addr: SocketAddr, service: S) -> Result<Self, GrpcError>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let listener = TcpListener::bind(addr).await.map_err(|source| GrpcError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| GrpcError::Bind { addr, source })?;
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter.set_serving::<S>().await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(semcom_proto::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let routes = Routes::new(health).add_service(reflection).add_service(service);
        Ok(Self { listener, addr, routes })
    }

    /// The bound address (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves in a task until the daemon is stopped, then runs `after` (closing the
    /// daemon's other endpoints and tasks) before the task ends.
    pub fn spawn<F>(self, after: F) -> ServerTask<GrpcError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        ServerTask::spawn(move |stop| async move {
            let result = tonic::transport::Server::builder()
                .add_routes(self.routes)
                .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), stop.wait())
                .await;
            after.await;
            Ok(result?)
        })
    }
}
