// Command terraform-provider-null is the Go reference provider for SparkFlow's
// benchmarks: a provider with one resource, null_resource (optional `triggers`
// map that forces replacement, computed `id`), served over plugin protocol 5
// by terraform-plugin-framework, the same framework and version that
// hashicorp/terraform-provider-null v3.3.1 is built with (see go.mod).
//
// It exists because the Go module proxy does not serve hashicorp's null
// provider at any v3 release (its v3 tags are not valid versions of its module
// path), so `go install ...terraform-provider-null@v3.x` is impossible here.
// Start-up cost of a framework provider is the Go runtime, go-plugin, gRPC and
// the AutoMTLS certificate, none of which depend on the resources' code, so
// this stand-in measures what the real null provider would.
package main

import (
	"context"
	"crypto/rand"
	"log"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type nullProvider struct{}

func (p *nullProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "null"
}

func (p *nullProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = pschema.Schema{}
}

func (p *nullProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p *nullProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &nullResource{} }}
}

func (p *nullProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

type nullResource struct{}

type nullModel struct {
	ID       types.String `tfsdk:"id"`
	Triggers types.Map    `tfsdk:"triggers"`
}

func (r *nullResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_resource"
}

func (r *nullResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A resource that does nothing (benchmark reference).",
		Attributes: map[string]schema.Attribute{
			"triggers": schema.MapAttribute{
				Description:   "Arbitrary values whose change replaces the resource.",
				ElementType:   types.StringType,
				Optional:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"id": schema.StringAttribute{
				Description:   "A random identifier chosen at create.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *nullResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m nullModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		resp.Diagnostics.AddError("cannot choose an id", err.Error())
		return
	}
	m.ID = types.StringValue(n.String())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *nullResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

func (r *nullResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m nullModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *nullResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func main() {
	err := providerserver.Serve(context.Background(),
		func() provider.Provider { return &nullProvider{} },
		providerserver.ServeOpts{
			Address:         "registry.terraform.io/bench/null",
			ProtocolVersion: 5,
		})
	if err != nil {
		log.Fatal(err)
	}
}
