ALTER TABLE "features" ADD COLUMN "copy" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "features" DROP CONSTRAINT "features_image_id_feature_set_id_pk";--> statement-breakpoint
ALTER TABLE "features" ADD CONSTRAINT "features_image_id_feature_set_id_copy_pk" PRIMARY KEY("image_id","feature_set_id","copy");
