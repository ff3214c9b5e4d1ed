//! `/api/v1/attachments`: uploading files, and downloading them (and an
//! image's preview) for those who may read them.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chat_core::domain::FileName;
use chat_core::ids::AttachmentId;
use chat_core::model::MessageAttachment;
use chat_core::{AttachmentPart, ChatError, Upload, UserId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use crate::uploads::{download, inspect, spool};

/// The attachment routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(original))
        .routes(routes!(preview))
}

/// `POST /attachments` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The name it is shown and downloaded under: 1 to 255 characters,
    /// no control characters, `/` or `\`.
    filename: String,
}

/// Upload a file: the request body is its bytes, as they are (any
/// `Content-Type`; the server sniffs the type from the bytes). It can then
/// be sent in one message (`attachments` of a send); unsent, it is removed
/// after an hour. Images (PNG, JPEG, GIF, WebP) get their size and a
/// preview.
#[utoipa::path(
    post,
    path = "/",
    tag = "attachments",
    operation_id = "upload_attachment",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored: the attachment as messages will carry it", body = MessageAttachment),
        ApiErrors
    )
)]
async fn upload(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<MessageAttachment>), ApiError> {
    let filename = FileName::parse(&query.filename)?;
    let attachments = state.engine.attachments();
    let max = attachments.config().max_bytes;
    // Refused before a byte is read when the client says it is too large.
    let announced = (headers.get(header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(ChatError::AttachmentTooLarge { max }.into());
    }
    attachments.admit_upload(ctx.user_id).await?;
    let settings = &state.http.uploads;
    let spooled = spool::spool(body, &settings.spool_dir, max, settings.idle_timeout).await?;
    let path = spooled.file.path().to_owned();
    let seen = inspect::inspect(path.clone(), spooled.head).await;
    let upload = Upload {
        filename,
        content_type: seen.content_type,
        size: spooled.size,
        image: seen.image,
        preview: seen.preview,
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ChatError::internal(format!("cannot read a spooled upload: {e}")))?;
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, file);
    let stored = attachments.store(ctx.user_id, upload, &mut reader).await?;
    // `spooled.file` is removed here.
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Download a file: for its uploader, and once it is sent, for the
/// members of its conversation. Images are served inline; every other
/// file as a download (`Content-Disposition: attachment`), never as a
/// page of this origin (`nosniff`, a sandboxing CSP).
#[utoipa::path(
    get,
    path = "/{attachment_id}",
    tag = "attachments",
    operation_id = "download_attachment",
    params(("attachment_id" = String, Path, description = "The attachment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file's bytes, as its sniffed type (active types such as HTML as `application/octet-stream`)", content_type = "*/*"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        ApiErrors
    )
)]
async fn original(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<AttachmentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, ctx.user_id, id, AttachmentPart::Original, &headers).await
}

/// Download an image's preview: a JPEG at most 320 pixels on its longer
/// side; for those who may download the image.
#[utoipa::path(
    get,
    path = "/{attachment_id}/preview",
    tag = "attachments",
    operation_id = "download_attachment_preview",
    params(("attachment_id" = String, Path, description = "The attachment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The preview, JPEG", content_type = "image/jpeg"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        ApiErrors
    )
)]
async fn preview(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<AttachmentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, ctx.user_id, id, AttachmentPart::Preview, &headers).await
}

async fn serve(
    state: &AppState,
    user: UserId,
    id: AttachmentId,
    part: AttachmentPart,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (attachment, blob) = state.engine.attachments().open(user, id, part).await?;
    Ok(download::response(&attachment, part, blob, headers))
}
