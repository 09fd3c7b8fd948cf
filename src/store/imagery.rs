//! The camera's attitude for each image (from its CAMERA_IMAGE_CAPTURED
//! quaternion), kept beside the image: its footprint is drawn from it, and
//! the catalogue serves its view angles.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreResult};
use crate::footprint::{CameraAttitude, ImageAttitude};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS image_attitudes (image_id TEXT PRIMARY KEY, q_w DOUBLE PRECISION NOT NULL, q_x DOUBLE PRECISION NOT NULL, q_y DOUBLE PRECISION NOT NULL, q_z DOUBLE PRECISION NOT NULL, roll_deg DOUBLE PRECISION NOT NULL, pitch_deg DOUBLE PRECISION NOT NULL, yaw_deg DOUBLE PRECISION NOT NULL, gimbal_pitch_deg DOUBLE PRECISION NOT NULL, gimbal_yaw_deg DOUBLE PRECISION, vehicle_heading_deg DOUBLE PRECISION)";

const COLUMNS: &str = "image_id, q_w, q_x, q_y, q_z, roll_deg, pitch_deg, yaw_deg, gimbal_pitch_deg, gimbal_yaw_deg, vehicle_heading_deg";

fn attitude_from_row(r: &sqlx::any::AnyRow) -> (String, ImageAttitude) {
    (
        r.get(0),
        ImageAttitude {
            camera: CameraAttitude {
                q: [r.get(1), r.get(2), r.get(3), r.get(4)],
                roll_deg: r.get(5),
                pitch_deg: r.get(6),
                yaw_deg: r.get(7),
            },
            gimbal_pitch_deg: r.get(8),
            gimbal_yaw_deg: r.get(9),
            vehicle_heading_deg: r.get(10),
        },
    )
}

impl Store {
    pub(super) async fn create_imagery_schema(&self) -> StoreResult<()> {
        sqlx::query(SCHEMA).execute(&self.pool).await?;
        Ok(())
    }

    /// Stores an image's attitude; store it before the image, whose
    /// footprint is drawn from it.
    pub async fn save_image_attitude(
        &self,
        image_id: &str,
        attitude: &ImageAttitude,
    ) -> StoreResult<()> {
        let [w, x, y, z] = attitude.camera.q;
        sqlx::query(&format!("INSERT INTO image_attitudes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (image_id) DO NOTHING"))
            .bind(image_id)
            .bind(w)
            .bind(x)
            .bind(y)
            .bind(z)
            .bind(attitude.camera.roll_deg)
            .bind(attitude.camera.pitch_deg)
            .bind(attitude.camera.yaw_deg)
            .bind(attitude.gimbal_pitch_deg)
            .bind(attitude.gimbal_yaw_deg)
            .bind(attitude.vehicle_heading_deg)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn image_attitude(&self, image_id: &str) -> StoreResult<Option<ImageAttitude>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM image_attitudes WHERE image_id = $1"
        ))
        .bind(image_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(|r| attitude_from_row(r).1))
    }

    /// The attitudes known of these images, by image id.
    pub async fn image_attitudes(
        &self,
        image_ids: &[String],
    ) -> StoreResult<HashMap<String, ImageAttitude>> {
        if image_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // One numbered bind parameter ($1, $2, ...) per id, bound below.
        let numbered: Vec<String> = (1..=image_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM image_attitudes WHERE image_id IN ({})",
            numbered.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in image_ids {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(attitude_from_row).collect())
    }
}
