CREATE TYPE "public"."run_kind" AS ENUM('head', 'finetune');--> statement-breakpoint
CREATE TABLE "backbone_weights" (
	"sha256" text PRIMARY KEY NOT NULL,
	"backbone" text NOT NULL,
	"model_json" "bytea" NOT NULL,
	"model_json_sha256" text NOT NULL,
	"weights_bin" "bytea" NOT NULL,
	"weights_bin_sha256" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "kind" "run_kind" DEFAULT 'head' NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "from_run_id" uuid;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "output_feature_set_id" uuid;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_from_run_id_runs_id_fk" FOREIGN KEY ("from_run_id") REFERENCES "public"."runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_output_feature_set_id_feature_sets_id_fk" FOREIGN KEY ("output_feature_set_id") REFERENCES "public"."feature_sets"("id") ON DELETE no action ON UPDATE no action;