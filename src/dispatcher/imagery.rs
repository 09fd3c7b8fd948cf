//! A photo's attitude: the camera quaternion its message carries, and the
//! drone's heading from its latest telemetry (for the gimbal's yaw from the
//! nose), stored before the image so its footprint is drawn from them.

use super::Dispatcher;
use crate::footprint::ImageAttitude;
use crate::store::StoreError;

impl Dispatcher {
    pub(super) async fn store_image_attitude(
        &self,
        drone: &str,
        image_id: &str,
        q: [f32; 4],
    ) -> Result<(), StoreError> {
        let heading = self
            .fleet
            .lock()
            .expect("fleet")
            .get(drone)
            .and_then(|l| l.telemetry.as_ref())
            .and_then(|t| t.heading_deg);
        match ImageAttitude::new(q.map(f64::from), heading) {
            Some(attitude) => self.store.save_image_attitude(image_id, &attitude).await,
            None => {
                tracing::debug!(
                    drone,
                    image = image_id,
                    ?q,
                    "photo without a usable camera attitude; footprint taken as nadir"
                );
                Ok(())
            }
        }
    }
}
