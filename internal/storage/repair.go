package storage

import (
	"fmt"
	"log/slog"
	"time"

	cstorage "go.podman.io/storage"
)

// CheckAndRepair looks for damage an unclean shutdown can leave in the
// store (a layer whose files or metadata were cut short, an image or
// container that refers to one) and removes only what is damaged, with
// what depends on it, instead of wiping the store. go.podman.io/storage
// itself drops layers flagged incomplete (a pull cut short) when it opens
// the store. Layer contents are not re-digested: that reads every byte of
// every image, too slow for a start-up. Layers a killed pull left
// unpacked in the overlay driver's staging directory are removed (storage
// removes them only when a store shuts down cleanly).
func (s *Store) CheckAndRepair(log *slog.Logger) error {
	start := time.Now()
	if s.Store.GraphDriverName() == "overlay" {
		n, err := pruneStaging(s.Store.GraphRoot())
		if err != nil {
			log.Warn("removing layers a cut-short pull left staged", "error", err)
		}
		if n > 0 {
			log.Info("removed layers a cut-short pull left staged", "count", n)
		}
	}
	report, err := s.Store.Check(&cstorage.CheckOptions{
		LayerMountable: true,
		LayerData:      true,
		ImageData:      true,
		ContainerData:  true,
	})
	if err != nil {
		return fmt.Errorf("checking storage: %w", err)
	}
	damaged := len(report.Layers) + len(report.ROLayers) + len(report.Images) + len(report.ROImages) + len(report.Containers)
	if damaged == 0 {
		log.Info("storage checked after an unclean shutdown: no damage", "duration", time.Since(start).Round(time.Millisecond))
		return nil
	}
	for id, errs := range report.Layers {
		log.Warn("damaged storage layer; removing it and the images and containers that use it", "layer", id, "errors", fmt.Sprint(errs))
	}
	for id, errs := range report.Images {
		log.Warn("damaged image; removing it", "image", id, "errors", fmt.Sprint(errs))
	}
	for id, errs := range report.Containers {
		log.Warn("damaged storage container; removing it", "container", id, "errors", fmt.Sprint(errs))
	}
	if errs := s.Store.Repair(report, &cstorage.RepairOptions{RemoveContainers: true}); len(errs) > 0 {
		return fmt.Errorf("repairing storage: %v", errs)
	}
	log.Warn("storage repaired after an unclean shutdown", "damaged", damaged, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
